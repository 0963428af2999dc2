// Runs graphql-http's server audit suite against the behalf server at the URL given as the first
// argument and prints one line per audit, then "PASSED n/m". Exit 1 if any MUST/SHOULD audit fails.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/graphql');
  process.exit(2);
}
const results = await Promise.all(serverAudits({ url, fetchFn: fetch }).map((a) => a.fn().then((r) => ({ a, r }))));
let ok = 0;
for (const { a, r } of results) {
  if (r.status === 'ok') ok++;
  console.log(`${r.status.padEnd(7)} ${a.id} ${a.name}${r.status === 'ok' ? '' : ': ' + r.reason}`);
}
console.log(`PASSED ${ok}/${results.length}`);
process.exit(ok === results.length ? 0 : 1);

// A minimal GraphQL-over-HTTP client for the embedded apps: POST /graphql with a bearer token, and the
// GraphQL multipart request spec for file uploads. Errors carry the server's extensions.code.

/** An error answered by the API; `code` is extensions.code (UNAUTHENTICATED, FORBIDDEN, …). */
export class ApiError extends Error {
  constructor(message, code, requestId) {
    super(message);
    this.code = code || 'INTERNAL_SERVER_ERROR';
    this.requestId = requestId || '';
  }
}

const endpoint = '/graphql';

async function answer(res) {
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(`The server answered HTTP ${res.status}.`, res.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL_SERVER_ERROR');
  }
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new ApiError(e.message, e.extensions && e.extensions.code, e.extensions && e.extensions.requestId);
  }
  return body.data;
}

/** Runs a query or mutation; token may be empty (anonymous). */
export async function gql(query, variables = {}, token = '') {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  } catch {
    throw new ApiError('The server cannot be reached. Check your connection and try again.', 'NETWORK');
  }
  return answer(res);
}

/** Runs a mutation with one file bound to the variable named fileVar (multipart request spec). */
export async function gqlUpload(query, variables, fileVar, file, token = '') {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, [fileVar]: null } }));
  form.append('map', JSON.stringify({ 0: [`variables.${fileVar}`] }));
  form.append('0', file, file.name);
  const headers = { 'GraphQL-Require-Preflight': '1' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(endpoint, { method: 'POST', headers, body: form });
  } catch {
    throw new ApiError('The server cannot be reached. Check your connection and try again.', 'NETWORK');
  }
  return answer(res);
}

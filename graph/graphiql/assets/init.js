// Bootstrap for the embedded GraphiQL page (see graphiql.go).
//
// Kept out of the HTML so the page's Content-Security-Policy can forbid
// inline scripts. The GraphQL endpoint is read from the data-endpoint
// attribute of the #graphiql element, which the Go handler fills in.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  var endpoint = root.getAttribute('data-endpoint') || '/graphql';

  // Posts the operation as JSON. opts.headers holds whatever the user typed
  // into GraphiQL's "Headers" editor, e.g. {"Authorization": "Bearer <token>"}.
  function fetcher(graphQLParams, opts) {
    var headers = {};
    var extra = (opts && opts.headers) || {};
    Object.keys(extra).forEach(function (k) {
      // The body is always JSON; ignore a Content-Type typed by the user.
      if (k.toLowerCase() !== 'content-type') {
        headers[k] = extra[k];
      }
    });
    headers['Content-Type'] = 'application/json';
    headers['Accept'] = 'application/json';
    return fetch(endpoint, {
      method: 'POST',
      headers: headers,
      body: JSON.stringify(graphQLParams),
      credentials: 'same-origin',
    }).then(function (res) {
      return res.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (e) {
          // Not JSON (e.g. a proxy error page): show it instead of failing silently.
          return { errors: [{ message: 'HTTP ' + res.status + ': ' + text }] };
        }
      });
    });
  }

  var defaultQuery = [
    '# Welcome to GraphiQL.',
    '#',
    '# For operations that need authentication,',
    '# open the "Headers" tab below and enter:',
    '#',
    '#   {"Authorization": "Bearer <token>"}',
    '#',
    '# Headers are kept in this browser',
    '# (localStorage) between visits.',
    '# Run: Ctrl-Enter (Cmd-Enter on macOS).',
    '',
    '{',
    '  __typename',
    '}',
    '',
  ].join('\n');

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: 'headers',
    })
  );
})();

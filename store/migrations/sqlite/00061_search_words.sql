-- +goose Up
-- Each search word row carries the contact's folded words and organization in the primary key
-- B-tree (WITHOUT ROWID), so a search is one walk of the driving word's key range that checks the
-- other words, the de-duplication and the organization on the row itself (see docs/search.md). The
-- (contact_id, token) index served only per-row probes and goes. `words` is the contact's distinct
-- words in byte order joined by single spaces, as directory.SearchRows builds it; existing rows get
-- it from the words already indexed.
CREATE TABLE contact_search_tokens_v2 (
    token           text NOT NULL,
    contact_id      text NOT NULL, -- no foreign key: rows are written and removed only with their contact
    words           text NOT NULL,
    organization_id text,
    PRIMARY KEY (token, contact_id)
) WITHOUT ROWID;
INSERT INTO contact_search_tokens_v2 (token, contact_id, words, organization_id)
SELECT t.token, t.contact_id, w.words, c.organization_id
FROM contact_search_tokens t
JOIN (SELECT contact_id, group_concat(token, ' ' ORDER BY token) AS words FROM contact_search_tokens GROUP BY contact_id) w
  ON w.contact_id = t.contact_id
JOIN contacts c ON c.id = t.contact_id;
DROP TABLE contact_search_tokens;
ALTER TABLE contact_search_tokens_v2 RENAME TO contact_search_tokens;

-- +goose Down
CREATE TABLE contact_search_tokens_v1 (
    token      text NOT NULL,
    contact_id text NOT NULL,
    PRIMARY KEY (token, contact_id)
) WITHOUT ROWID;
INSERT INTO contact_search_tokens_v1 (token, contact_id) SELECT token, contact_id FROM contact_search_tokens;
DROP TABLE contact_search_tokens;
ALTER TABLE contact_search_tokens_v1 RENAME TO contact_search_tokens;
CREATE INDEX contact_search_tokens_contact_idx ON contact_search_tokens (contact_id, token);

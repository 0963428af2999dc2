-- +goose Up
-- Each search word row carries the contact's folded words and organization, covered by the primary
-- key, so a search is one index-only walk of the driving word's key range that checks the other
-- words, the de-duplication and the organization on the index tuple itself: no per-row probes, no
-- join the planner could turn into a hash join (see docs/search.md). The (contact_id, token) index
-- served only those probes and goes. `words` is the contact's distinct words in byte order joined
-- by single spaces, as directory.SearchRows builds it; existing rows get it from the words already
-- indexed (the same words, aggregated in byte order). It rewrites the whole table: no statement
-- timeout (1,000,000 contacts take about a minute).
SET LOCAL statement_timeout = 0;
CREATE TABLE contact_search_tokens_v2 (
    token           text COLLATE "C" NOT NULL,
    contact_id      text NOT NULL, -- no foreign key: rows are written and removed only with their contact
    words           text COLLATE "C" NOT NULL,
    organization_id text
);
INSERT INTO contact_search_tokens_v2 (token, contact_id, words, organization_id)
SELECT t.token, t.contact_id, w.words, c.organization_id
FROM contact_search_tokens t
JOIN (SELECT contact_id, string_agg(token, ' ' ORDER BY token) AS words FROM contact_search_tokens GROUP BY contact_id) w
  ON w.contact_id = t.contact_id
JOIN contacts c ON c.id = t.contact_id;
DROP TABLE contact_search_tokens;
ALTER TABLE contact_search_tokens_v2 RENAME TO contact_search_tokens;
ALTER TABLE contact_search_tokens ADD CONSTRAINT contact_search_tokens_pkey PRIMARY KEY (token, contact_id) INCLUDE (words, organization_id);

-- +goose Down
CREATE TABLE contact_search_tokens_v1 (
    token      text COLLATE "C" NOT NULL,
    contact_id text NOT NULL,
    PRIMARY KEY (token, contact_id)
);
INSERT INTO contact_search_tokens_v1 (token, contact_id) SELECT token, contact_id FROM contact_search_tokens;
DROP TABLE contact_search_tokens;
ALTER TABLE contact_search_tokens_v1 RENAME TO contact_search_tokens;
ALTER INDEX contact_search_tokens_v1_pkey RENAME TO contact_search_tokens_pkey;
CREATE INDEX contact_search_tokens_contact_idx ON contact_search_tokens (contact_id, token);

-- +goose Up
-- Contact search by ordered B-tree prefix ranges over words folded in Go (see directory/search.go and
-- docs/search.md). The index is filled by whoever creates contacts; `behalf serve` fills it at start
-- when contacts exist but it is empty.
CREATE TABLE contact_search_tokens (
    token      text NOT NULL,
    contact_id text NOT NULL, -- no foreign key: a per-row check would halve import speed; rows come only with their contact
    PRIMARY KEY (token, contact_id)
) WITHOUT ROWID;
CREATE INDEX contact_search_tokens_contact_idx ON contact_search_tokens (contact_id, token);

-- +goose Down
DROP TABLE contact_search_tokens;

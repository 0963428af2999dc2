-- +goose Up
-- Contact search by ordered B-tree prefix ranges over words folded in Go (see directory/search.go and
-- docs/search.md). Byte order (COLLATE "C") makes a prefix a plain key range. The index is filled
-- by whoever creates contacts; `behalf serve` fills it at start when contacts exist but it is empty.
CREATE TABLE contact_search_tokens (
    token      text COLLATE "C" NOT NULL,
    contact_id text NOT NULL, -- no foreign key: a per-row check would halve import speed; rows come only with their contact
    PRIMARY KEY (token, contact_id)
);
CREATE INDEX contact_search_tokens_contact_idx ON contact_search_tokens (contact_id, token);

-- The tsvector search it replaces: a generated column every contact row carried, and its GIN index.
DROP INDEX contacts_search_idx;
ALTER TABLE contacts DROP COLUMN search_vector;

-- +goose Down
ALTER TABLE contacts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED;
CREATE INDEX contacts_search_idx ON contacts USING gin (search_vector);
DROP TABLE contact_search_tokens;

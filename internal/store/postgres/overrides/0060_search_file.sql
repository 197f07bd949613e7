-- PostgreSQL keeps the search index in the database (one database, many
-- writers), and its removals delete index rows in their own transactions:
-- nothing changes here. See the SQLite file of this number. search_unindex
-- is made all the same, empty, so that both backends have the same tables
-- (the personal-data registry names it).
CREATE TABLE search_unindex (
    id      BIGSERIAL PRIMARY KEY,
    conv_id TEXT NOT NULL,
    seq     BIGINT,
    floor   BIGINT NOT NULL
);

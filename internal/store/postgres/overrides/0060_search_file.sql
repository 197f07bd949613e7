-- PostgreSQL keeps the search index in the database (one database, many
-- writers): nothing changes here. See the SQLite file of this number.
SELECT 1;

-- pg_trgm backs the users.search_text trigram index; trusted since PostgreSQL 13, so a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

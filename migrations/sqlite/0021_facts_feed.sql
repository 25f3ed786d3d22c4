-- PostgreSQL's 0021 adds the change feed servers keep their scanned facts fresh by. On SQLite
-- a scan reads the file on the server's own thread (store::on_thread): nothing to announce.
-- Kept so both databases number their migrations alike.
SELECT 1;

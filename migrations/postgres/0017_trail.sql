-- A resident's trail reads their stays and relief by resident.
CREATE INDEX stays_resident ON stays (resident_id, checked_in_at);
CREATE INDEX distributions_resident ON distributions (resident_id, given_at);

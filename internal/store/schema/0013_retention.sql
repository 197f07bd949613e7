-- When a device last logged in (its login IP is that old), for truncating
-- login IPs after the retention period (R-DEV-2).
ALTER TABLE devices ADD COLUMN logged_in_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX devices_ip_age ON devices (ip_truncated, logged_in_at);
CREATE INDEX devices_idle ON devices (last_seen_at);
CREATE INDEX decisions_age ON decisions (created_at);

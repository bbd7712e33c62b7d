-- Lookups from an owner to what it owns had no index and read the whole table each time:
-- the till's check that a scanned resident code comes from a phone still signed in (live
-- sessions of a device), a resident's phones on the console (devices of a credential), and a
-- principal's credential. At Midori's size (30,000 residents, a session and a device for
-- every sign-in, never deleted) that is tens of thousands of rows per scan at the till.
-- Keep in step with the other engine's 0008.
CREATE INDEX sessions_device ON sessions (device_id);
CREATE INDEX devices_credential ON devices (credential_id);
CREATE INDEX credentials_principal ON credentials (principal_kind, principal_id);

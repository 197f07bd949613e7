-- Web Push subscriptions, one per device, sealed with the owner's key; they
-- go with the device (sign-out) and with the account.
CREATE TABLE push_subscriptions (
    user_id    TEXT NOT NULL,
    device_idx BLOB NOT NULL,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_idx),
    FOREIGN KEY (user_id, device_idx) REFERENCES devices (user_id, device_idx) ON DELETE CASCADE
);

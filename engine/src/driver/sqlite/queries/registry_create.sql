CREATE TABLE IF NOT EXISTS "_dac_registry" (
    "id" INTEGER PRIMARY KEY CHECK ("id" = 1),
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "definition" BLOB NOT NULL,
    "model_hash" TEXT NOT NULL,
    "registered_by" TEXT NOT NULL,
    "registered_at" TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS "_dac_history" (
    "action_id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "action" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version_before" TEXT,
    "version_after" TEXT,
    "at" TEXT NOT NULL,
    "by" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "duration_ms" INTEGER
);

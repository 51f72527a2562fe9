CREATE SCHEMA IF NOT EXISTS "_dac";
CREATE TABLE IF NOT EXISTS "_dac"."registry" (
    "id" integer PRIMARY KEY CHECK ("id" = 1),
    "name" text NOT NULL,
    "version" text NOT NULL,
    "definition" bytea NOT NULL,
    "model_hash" text NOT NULL,
    "registered_by" text NOT NULL,
    "registered_at" text NOT NULL
);
CREATE TABLE IF NOT EXISTS "_dac"."history" (
    "action_id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "action" text NOT NULL,
    "status" text NOT NULL,
    "name" text NOT NULL,
    "version_before" text,
    "version_after" text,
    "at" text NOT NULL,
    "by" text NOT NULL,
    "message" text NOT NULL,
    "duration_ms" bigint
);
-- A registry made before dac recorded durations gets the column.
ALTER TABLE "_dac"."history" ADD COLUMN IF NOT EXISTS "duration_ms" bigint;

-- The event log as one row per appended batch instead of one per event. The events written
-- before this become one batch per turn (in seq order), and 0006 drops the old table.
CREATE TABLE "turn_event_batches" (
	"turn_id" text NOT NULL,
	"first_seq" integer NOT NULL,
	"last_seq" integer NOT NULL,
	"events" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "turn_event_batches_turn_id_first_seq_last_seq_pk" PRIMARY KEY("turn_id","first_seq","last_seq")
);
--> statement-breakpoint
INSERT INTO "turn_event_batches" ("turn_id", "first_seq", "last_seq", "events", "created_at")
SELECT "turn_id", min("seq"), max("seq"), json_agg("event" ORDER BY "seq")::text, max("created_at")
FROM "turn_events" GROUP BY "turn_id";

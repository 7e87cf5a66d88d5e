ALTER TABLE "turn_events" DROP CONSTRAINT "turn_events_turn_id_turns_id_fk";

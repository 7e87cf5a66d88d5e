-- Items keep their body as JSON text instead of jsonb, and lose `doc` (the whole item as JSON
-- text, a second copy of the body): context reads join the stored bodies as they are. `doc` goes
-- first, since a column a generated column uses cannot change type; the type change rewrites the
-- table, so existing rows get their body as jsonb prints it and the dropped column's space back.
ALTER TABLE "items" DROP COLUMN "doc";--> statement-breakpoint
ALTER TABLE "items" ALTER COLUMN "body" SET DATA TYPE text;

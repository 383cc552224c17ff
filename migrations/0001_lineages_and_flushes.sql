CREATE TABLE `applied_flushes` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `applied_flushes_at_idx` ON `applied_flushes` (`at`);--> statement-breakpoint
CREATE TABLE `lineages` (
	`id` text PRIMARY KEY NOT NULL,
	`seq` integer DEFAULT 0 NOT NULL,
	`has_state` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
-- Lineages that existed before this table: their KeyState objects may already hold state, so
-- the admin API treats them as existing and tells them of every change (docs/consistency.md).
INSERT INTO `lineages` (`id`, `seq`, `has_state`) SELECT DISTINCT `lineage_id`, 0, 1 FROM `keys`;

CREATE TABLE `applied_flushes` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `applied_flushes_at_idx` ON `applied_flushes` (`at`);--> statement-breakpoint
CREATE TABLE `lineages` (
	`id` text PRIMARY KEY NOT NULL,
	`seq` integer DEFAULT 0 NOT NULL,
	`change_id` text,
	`has_state` integer DEFAULT false NOT NULL,
	`credits` text,
	`credits_version` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
-- Lineages that existed before this table. Their KeyState objects may already hold state, so
-- the admin API treats them as existing and tells them of every change; the credits an
-- operator set are taken from the lineage's newest key (docs/consistency.md).
INSERT INTO `lineages` (`id`, `seq`, `has_state`, `credits`, `credits_version`)
SELECT l.`lineage_id`, 0, 1, k.`credits`, CASE WHEN k.`credits` IS NULL THEN 0 ELSE 1 END
FROM (SELECT `lineage_id`, max(`id`) AS `newest` FROM `keys` GROUP BY `lineage_id`) l
JOIN `keys` k ON k.`id` = l.`newest`;

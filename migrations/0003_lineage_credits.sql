ALTER TABLE `lineages` ADD `change_id` text;--> statement-breakpoint
ALTER TABLE `lineages` ADD `credits` text;--> statement-breakpoint
ALTER TABLE `lineages` ADD `credits_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Credits move from each key to its lineage. The credits an operator set are taken from the
-- lineage's newest key (ids sort by creation), which is the copy rotation kept current
-- (docs/consistency.md).
UPDATE `lineages` SET `credits` = (
	SELECT k.`credits` FROM `keys` k WHERE k.`lineage_id` = `lineages`.`id` ORDER BY k.`id` DESC LIMIT 1
);--> statement-breakpoint
UPDATE `lineages` SET `credits_version` = 1 WHERE `credits` IS NOT NULL;

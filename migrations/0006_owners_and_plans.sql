CREATE TABLE `owners` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`plan` text,
	`ratelimits` text,
	`credits` text,
	`credits_version` integer DEFAULT 0 NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`seq` integer DEFAULT 0 NOT NULL,
	`change_id` text,
	`has_state` integer DEFAULT false NOT NULL,
	`plan_version_seen` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `owners_plan_idx` ON `owners` (`plan`,`id`);--> statement-breakpoint
CREATE TABLE `plans` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`key_ratelimits` text DEFAULT '[]' NOT NULL,
	`owner_ratelimits` text DEFAULT '[]' NOT NULL,
	`owner_credits` text,
	`max_keys` integer,
	`scopes` text,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`in_force_by` integer
);
--> statement-breakpoint
-- Every owner a key already names gets its record: no plan, nothing shared, so existing keys
-- keep working unchanged (DESIGN.md, "Owners and plans").
INSERT INTO `owners` (`id`, `created_at`, `updated_at`)
SELECT `owner_id`, MIN(`created_at`), MIN(`created_at`) FROM `keys` GROUP BY `owner_id`;

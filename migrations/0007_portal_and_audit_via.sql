CREATE TABLE `portal_key_reads` (
	`key_id` text NOT NULL,
	`minute` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`key_id`, `minute`)
);
--> statement-breakpoint
CREATE INDEX `portal_key_reads_minute_idx` ON `portal_key_reads` (`minute`);--> statement-breakpoint
CREATE TABLE `portal_links` (
	`code_hash` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`return_url` text,
	`expires_at` integer NOT NULL,
	`session_expires_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE INDEX `portal_links_expires_idx` ON `portal_links` (`expires_at`);--> statement-breakpoint
CREATE TABLE `portal_sessions` (
	`id_hash` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`return_url` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`ended_at` integer
);
--> statement-breakpoint
CREATE INDEX `portal_sessions_expires_idx` ON `portal_sessions` (`expires_at`);--> statement-breakpoint
ALTER TABLE `audit_log` ADD `via` text;
CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target_id` text NOT NULL,
	`request_id` text NOT NULL,
	`client_ip` text,
	`changes` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_target_idx` ON `audit_log` (`target_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_actor_idx` ON `audit_log` (`actor`,`id`);--> statement-breakpoint
CREATE INDEX `audit_action_idx` ON `audit_log` (`action`,`id`);--> statement-breakpoint
CREATE TABLE `keys` (
	`id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`start` text NOT NULL,
	`prefix` text NOT NULL,
	`lineage_id` text NOT NULL,
	`name` text NOT NULL,
	`owner_id` text NOT NULL,
	`environment` text NOT NULL,
	`scopes` text DEFAULT '[]' NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`allowed_ips` text DEFAULT '[]' NOT NULL,
	`ratelimits` text DEFAULT '[]' NOT NULL,
	`credits` text,
	`expires_at` integer,
	`enabled` integer DEFAULT true NOT NULL,
	`revoked_at` integer,
	`rotated_from` text,
	`last_used_at` integer,
	`usage_count` integer DEFAULT 0 NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `keys_hash_unique` ON `keys` (`hash`);--> statement-breakpoint
CREATE INDEX `keys_owner_idx` ON `keys` (`owner_id`,`id`);--> statement-breakpoint
CREATE INDEX `keys_environment_idx` ON `keys` (`environment`,`id`);--> statement-breakpoint
CREATE INDEX `keys_revoked_idx` ON `keys` (`revoked_at`,`id`);--> statement-breakpoint
CREATE INDEX `keys_expires_idx` ON `keys` (`expires_at`);--> statement-breakpoint
CREATE INDEX `keys_lineage_idx` ON `keys` (`lineage_id`);
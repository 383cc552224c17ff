CREATE TABLE `event_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`event` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `event_outbox_created_idx` ON `event_outbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `expiry_notices` (
	`key_id` text NOT NULL,
	`kind` text NOT NULL,
	`expires_at` integer NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`key_id`, `kind`, `expires_at`)
);
--> statement-breakpoint
CREATE INDEX `expiry_notices_expires_idx` ON `expiry_notices` (`expires_at`);--> statement-breakpoint
CREATE TABLE `leak_reports` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`url` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `security_events` (
	`at` integer NOT NULL,
	`code` text NOT NULL,
	`ip` text,
	`country` text,
	`user_agent` text,
	`method` text,
	`path` text,
	`route` text,
	`key_start` text,
	`key_id` text,
	`request_id` text NOT NULL,
	`count` integer,
	`flush_id` text NOT NULL,
	PRIMARY KEY(`at`, `request_id`, `code`)
);
--> statement-breakpoint
CREATE INDEX `security_events_code_idx` ON `security_events` (`code`,`at`);--> statement-breakpoint
CREATE INDEX `security_events_ip_idx` ON `security_events` (`ip`,`at`);--> statement-breakpoint
CREATE TABLE `webhook_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`endpoint_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`attempt` integer NOT NULL,
	`at` integer NOT NULL,
	`status` text NOT NULL,
	`status_code` integer,
	`duration_ms` integer NOT NULL,
	`error` text,
	`next_retry_at` integer
);
--> statement-breakpoint
CREATE INDEX `webhook_attempts_endpoint_idx` ON `webhook_attempts` (`endpoint_id`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_attempts_endpoint_status_idx` ON `webhook_attempts` (`endpoint_id`,`status`,`id`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`description` text,
	`events` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`disabled_reason` text,
	`secret` text NOT NULL,
	`previous_secret` text,
	`previous_secret_until` integer,
	`failing_since` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `keys` ADD `suspended_until` integer;
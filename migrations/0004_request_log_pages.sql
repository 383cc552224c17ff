CREATE TABLE `request_log_pages` (
	`key_id` text NOT NULL,
	`newest_at` integer NOT NULL,
	`oldest_at` integer NOT NULL,
	`flush_id` text NOT NULL,
	`outcomes` text NOT NULL,
	`entries` text NOT NULL,
	PRIMARY KEY(`key_id`, `newest_at`, `flush_id`)
);
--> statement-breakpoint
-- The log kept so far moves into pages, one per key and minute, so no request logged before
-- this migration is lost (docs/storage.md, "request_log_pages").
INSERT INTO `request_log_pages` (`key_id`, `newest_at`, `oldest_at`, `flush_id`, `outcomes`, `entries`)
SELECT `key_id`, max(`at`), min(`at`), 'migrated_' || (`at` / 60000),
	' ' || replace(group_concat(DISTINCT `outcome`), ',', ' ') || ' ',
	json_group_array(json_array(`at`, `request_id`, `method`, `path`, `route`, `status`, `outcome`, `ip`, `user_agent`,
		`country`, `gateway_ms`, `upstream_ms`))
FROM `request_log` GROUP BY `key_id`, `at` / 60000;--> statement-breakpoint
DROP TABLE `request_log`;
-- 0001 marked every lineage that existed then as having a KeyState object, so admin calls told
-- (and so created, near the operator) the objects of lineages no consumer had ever used. A
-- lineage whose row no claim or change has moved since (seq 0) and whose keys were never used
-- has no home: its home is created by its first consumer request, near the consumer
-- (docs/consistency.md).
UPDATE `lineages` SET `has_state` = 0
WHERE `has_state` = 1 AND `seq` = 0
  AND NOT EXISTS (
    SELECT 1 FROM `keys` k
    WHERE k.`lineage_id` = `lineages`.`id` AND (k.`usage_count` > 0 OR k.`last_used_at` IS NOT NULL)
  );

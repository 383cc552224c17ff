import type { Region } from "./regions";

/** A lineage's regional object in `region` (its home is named by the lineage id alone). */
export const regionalName = (lineageId: string, region: Region): string => `${lineageId}@${region}`;

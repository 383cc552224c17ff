import { ProblemError } from "../errors";

/** What failed, as the detail of a 400 reads it: the first few issues, each with its path. */
export function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** 400 VALIDATION_FAILED with the zod issues, as every admin route answers a request that fails its schema. */
export const validationFailed = (issues: readonly { path: PropertyKey[]; message: string }[]): ProblemError =>
  new ProblemError("VALIDATION_FAILED", describeIssues(issues), {
    extensions: { issues: issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
  });

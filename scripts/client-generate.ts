// `npm run client:generate`: regenerates client/openapi.d.ts from the document the worker serves.
// Run it after any change to the admin API's routes or schemas; a test fails until you do.
import { writeFile } from "node:fs/promises";
import { documentFromWorker, TYPES_PATH, typesFor } from "./openapi-document.ts";

await writeFile(TYPES_PATH, await typesFor(await documentFromWorker()));
console.log(`keygate: wrote ${TYPES_PATH}`);

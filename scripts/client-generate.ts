// `npm run client:generate`: regenerates client/openapi.d.ts and client/portal-openapi.d.ts from the
// documents the worker serves. Run it after any change to the admin or portal API's routes or
// schemas; a test fails until you do.
import { writeFile } from "node:fs/promises";
import { ADMIN_DOCUMENT, documentsFromWorker, PORTAL_DOCUMENT, PORTAL_TYPES_PATH, TYPES_PATH, typesFor } from "./openapi-document.ts";

const [admin, portal] = await documentsFromWorker([ADMIN_DOCUMENT, PORTAL_DOCUMENT]);
await writeFile(TYPES_PATH, await typesFor(admin, ADMIN_DOCUMENT));
await writeFile(PORTAL_TYPES_PATH, await typesFor(portal, PORTAL_DOCUMENT));
console.log(`keygate: wrote ${TYPES_PATH} and ${PORTAL_TYPES_PATH}`);

/** `req_` and 32 hex characters: the one form of request id keygate issues (inbound ids are not trusted). */
export const newRequestId = (): string => `req_${crypto.randomUUID().replaceAll("-", "")}`;

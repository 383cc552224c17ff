import net, { type AddressInfo } from "node:net";

/** A loopback port nothing listens on now (the OS's pick, released at once). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface AdminCall {
  method?: string;
  json?: unknown;
  token?: string;
}

/** A request to a gateway's admin API: its status and JSON body. */
export type AdminApi = <T = unknown>(pathAndQuery: string, init?: AdminCall) => Promise<{ status: number; body: T }>;

/** A caller of a gateway's admin API, with `token` unless a call names another. */
export function adminApi(gatewayUrl: string, token: string): AdminApi {
  return async <T>(pathAndQuery: string, init: AdminCall = {}) => {
    const res = await fetch(`${gatewayUrl}/admin${pathAndQuery}`, {
      method: init.method ?? "GET",
      headers: { Authorization: `Bearer ${init.token ?? token}`, "Content-Type": "application/json" },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
}

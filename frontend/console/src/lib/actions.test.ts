import { describe, expect, it } from "vitest";
import type { Case } from "../api/petitions";
import { actionsFor } from "./actions";
import { decodeClaims } from "../auth/session";

const dispatched = { allowed_actions: ["take", "return", "supervise", "escalate"] } as Case;

describe("actions offered", () => {
  it("are those the state allows and the role may take", () => {
    expect(actionsFor(dispatched, ["handler"])).toEqual(["take", "return"]);
    expect(actionsFor(dispatched, ["operator"])).toEqual([]);
    expect(actionsFor(dispatched, ["supervisor"])).toEqual(["supervise", "escalate"]);
    expect(actionsFor(dispatched, ["admin"])).toEqual(dispatched.allowed_actions);
  });
});

describe("token claims", () => {
  it("are read from the JWT payload, UTF-8 included", () => {
    const payload = btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify({ sub: "陈炉", roles: ["handler"], org_unit: "610203100", exp: 1 }))))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    expect(decodeClaims(`h.${payload}.s`)).toMatchObject({ sub: "陈炉", roles: ["handler"], org_unit: "610203100" });
    expect(decodeClaims("not-a-jwt")).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import type { Case } from "../api/petitions";
import { actionsFor, bodyFrom, fieldsFor } from "./actions";
import { decodeClaims } from "../auth/session";

describe("actions offered", () => {
  it("are the API's answer for this caller, nothing added or hidden", () => {
    const asked = { allowed_actions: ["approve_extension", "refuse_extension"] } as Case;
    expect(actionsFor(asked)).toEqual(["approve_extension", "refuse_extension"]);
    expect(actionsFor({ allowed_actions: [] } as unknown as Case)).toEqual([]);
  });

  it("ask a 信访 case's decline for its route and the written notice, a ticket's not", () => {
    expect(fieldsFor("decline", { kind: "petition_case" })).toEqual(["reason", "route", "notice_means", "notice_given_on?"]);
    expect(fieldsFor("decline", { kind: "hotline_ticket" })).toEqual(["reason"]);
    expect(fieldsFor("accept", { kind: "hotline_ticket" })).toEqual([]);
  });

  it("send the notice as one object", () => {
    const fields = fieldsFor("approve_extension", { kind: "petition_case" });
    expect(bodyFrom(fields, { notice_means: "post", days: "20", note: " 已电话告知 " })).toEqual({
      days: 20,
      notice: { means: "post" },
      note: "已电话告知",
    });
  });
  it("takes the number Vue's v-model gives a type=number field", () => {
    const fields = fieldsFor("request_extension", { kind: "petition_case" });
    expect(bodyFrom(fields, { days: 30, reason: "需协调勘测" })).toEqual({ days: 30, reason: "需协调勘测" });
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

import { createRouter, createWebHistory } from "vue-router";
import { hasRole, homeFor, session, type Role } from "./auth/session";

// A unit's head (负责人) works cases too: the extension requests waiting on their approval.
const WORKBENCH: Role[] = ["operator", "handler", "supervisor", "unit_head"];
const FIGURES: Role[] = ["operator", "handler", "supervisor", "unit_head", "planner", "read_only"];

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: "/login", component: () => import("./views/LoginView.vue"), meta: { public: true } },
    { path: "/queue", component: () => import("./views/QueueView.vue"), meta: { roles: WORKBENCH } },
    { path: "/new", component: () => import("./views/NewCaseView.vue"), meta: { roles: ["operator"] } },
    { path: "/cases/:id", component: () => import("./views/CaseView.vue"), props: true, meta: { roles: WORKBENCH } },
    { path: "/dashboard", component: () => import("./views/DashboardView.vue"), meta: { roles: FIGURES } },
    { path: "/:rest(.*)*", redirect: () => (session.claims ? homeFor(session.claims.roles) : "/login") },
  ],
});

router.beforeEach((to) => {
  if (to.meta.public) return true;
  if (!session.claims || session.claims.exp * 1000 <= Date.now()) {
    return { path: "/login", query: { next: to.fullPath } };
  }
  const roles = to.meta.roles as Role[] | undefined;
  if (roles && !hasRole(...roles)) {
    const home = homeFor(session.claims.roles);
    // A role with no page here (a system client) is told so on the sign-in page.
    return home === to.path ? { path: "/login", query: { denied: "1" } } : home;
  }
  return true;
});

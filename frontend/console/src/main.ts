import { createApp } from "vue";
import App from "./App.vue";
import { whenUnauthorized } from "./api/http";
import { i18n } from "./i18n";
import { router } from "./router";
import "./style.css";

whenUnauthorized(() => {
  void router.push({ path: "/login", query: { next: router.currentRoute.value.fullPath } });
});

createApp(App).use(i18n).use(router).mount("#app");

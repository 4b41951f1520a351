// Org units and categories, fetched once per session (any role may read them).
import { reactive } from "vue";
import { categories, orgUnits, type Category, type OrgUnit } from "../api/petitions";

export const reference = reactive({
  units: [] as OrgUnit[],
  categories: [] as Category[],
  loaded: false,
});

let loading: Promise<void> | null = null;

export function loadReference(): Promise<void> {
  if (reference.loaded) return Promise.resolve();
  loading ??= Promise.all([orgUnits(), categories()])
    .then(([units, cats]) => {
      reference.units = units;
      reference.categories = cats;
      reference.loaded = true;
    })
    .finally(() => {
      loading = null;
    });
  return loading;
}

export function unitName(code: string | null | undefined): string {
  if (!code) return "—";
  const unit = reference.units.find((u) => u.code === code);
  return unit ? unit.short_name ?? unit.name : code;
}

export function categoryName(code: string | null | undefined): string {
  if (!code) return "—";
  return reference.categories.find((c) => c.code === code)?.name ?? code;
}

/** Towns and villages, for the place picker: "陈炉镇 / 某村". */
export function placeOptions(): { code: string; label: string }[] {
  const byCode = new Map(reference.units.map((u) => [u.code, u]));
  return reference.units
    .filter((u) => u.level === "town" || u.level === "village")
    .map((u) => {
      const parent = u.parent_code ? byCode.get(u.parent_code) : undefined;
      const label = u.level === "village" && parent ? `${parent.name} / ${u.name}` : u.name;
      return { code: u.code, label };
    })
    .sort((a, b) => a.code.localeCompare(b.code));
}

/**
 * Sections as the server lists them (GET /api/v1/kb/sections). A section's name is the server's
 * own in the console's language when it sends names; else the FAQ catalogue's; else its id.
 */
import { useConsole, useLatest, useT } from "../hooks";

export interface SectionInfo {
  section: string;
  id?: string;
  names?: Record<string, string>;
  retired?: boolean;
  total: number;
  by_language: Record<string, number>;
}

export interface Sections {
  /** Live sections in the server's order (the known ten until the server has answered). */
  live: SectionInfo[];
  name: (id: string) => string;
  data: SectionInfo[] | undefined;
  error: unknown;
  reload: () => void;
}

export function useSections(): Sections {
  const ctx = useConsole();
  const { t, lang } = useT();
  const { data, error, reload } = useLatest("kb-sections", (signal) =>
    ctx.api.get<{ sections: SectionInfo[] }>("/api/v1/kb/sections", { signal }).then((answer) => answer.sections),
  );
  // The server owns the sections (they are data); none are offered until its list has arrived.
  const live = data?.filter((s) => !s.retired) ?? [];
  const name = (id: string): string => {
    const own = data?.find((s) => (s.id ?? s.section) === id)?.names?.[lang];
    if (own) return own;
    const key = `section.${id}`;
    const known = t(key);
    return known === key ? id : known;
  };
  return { live, name, data, error, reload };
}

/** The knowledge base's answers as both the FAQ and the console's editor read them (services/kb-search/kb_search/entrypoints/schemas.py). */

/** The same article in another language. */
export interface Variant {
  id: string;
  lang: string;
  title: string;
  slug: string;
  url: string;
}

/** What the FAQ reads of an article (GET /api/v1/kb/articles/{id}); the console's editor reads more of it. */
export interface KbArticle {
  id: string;
  key: string;
  lang: string;
  section: string;
  title: string;
  body: string;
  url: string;
  variants: Variant[];
}

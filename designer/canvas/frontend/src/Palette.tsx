// The palette: every catalog op and composite block, grouped by category, with a search box.
// Drag an item onto the canvas to place it there; click it to append it below the selected node, wired to it.
import { memo, useMemo, useState } from "react";
import type { PaletteGroup, PaletteItem } from "./types";

export const DRAG_MIME = "application/x-convas-item";

interface Props {
  groups: PaletteGroup[];
  onPick: (item: PaletteItem) => void;
}

function matches(item: PaletteItem, q: string): boolean {
  return item.name.toLowerCase().includes(q) || item.title.toLowerCase().includes(q) || item.doc.toLowerCase().includes(q);
}

function PaletteView({ groups, onPick }: Props) {
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const shown = useMemo(  // while searching, the pinned group would only repeat matches shown in their categories
    () => groups.filter((g) => !(q && g.pinned))
      .map((g) => ({ ...g, items: q ? g.items.filter((i) => matches(i, q)) : g.items }))
      .filter((g) => g.items.length > 0),
    [groups, q],
  );
  return (
    <aside className="cv-palette" data-testid="cv-palette">
      <input
        className="cv-search"
        type="search"
        placeholder="Search layers…"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        data-testid="cv-search"
      />
      <div className="cv-groups">
        {shown.map((g) => (
          <details key={g.category} open className={`cv-group${g.pinned ? " cv-group-pinned" : ""}`}
            data-testid={g.pinned ? "cv-palette-pinned" : undefined}>
            <summary style={{ ["--cat" as string]: g.colour }}>
              <span className="cv-dot" />
              {g.category}
              <span className="cv-count">{g.items.length}</span>
            </summary>
            <div className="cv-items">
              {g.items.map((item) => (
                <div
                  key={`${item.kind}:${item.name}`}
                  className={`cv-item cv-item-${item.kind}`}
                  style={{ ["--cat" as string]: item.colour ?? g.colour }}
                  draggable
                  title={item.doc}
                  data-testid={g.pinned ? `cv-pinned-${item.name}` : `cv-palette-${item.name}`}
                  onDragStart={(e) => {
                    e.dataTransfer.setData(DRAG_MIME, JSON.stringify({ kind: item.kind, name: item.name, prefix: item.prefix }));
                    e.dataTransfer.effectAllowed = "copy";
                  }}
                  onClick={() => onPick(item)}
                >
                  {item.title}
                </div>
              ))}
            </div>
          </details>
        ))}
        {shown.length === 0 ? <div className="cv-empty">No layer matches “{query}”.</div> : null}
      </div>
    </aside>
  );
}

export const Palette = memo(PaletteView);

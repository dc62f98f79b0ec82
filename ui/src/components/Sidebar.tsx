// History sidebar: new chat, search, conversations (rename, export, delete + undo), navigation.

import type { RefObject } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import * as ipc from "../api/ipc";
import type { ConversationId, ConversationSummary, ExportFormat, IpcError } from "../api/types";
import { plural, when } from "../lib/format";
import { Icon, type IconName } from "./Icon";
import { showToast } from "./Toasts";

export type View = "chat" | "dashboard" | "settings";

const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);
export const MOD = isMac ? "⌘" : "Ctrl";

function group(list: ConversationSummary[], now = new Date()): Array<[string, ConversationSummary[]]> {
  const startToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const day = 86400000;
  const groups: Record<string, ConversationSummary[]> = {};
  const order = ["Pinned", "Today", "Yesterday", "Previous 7 days", "Older"];
  for (const c of list) {
    const t = new Date(c.updated_at).getTime();
    const g = c.pinned
      ? "Pinned"
      : t >= startToday
        ? "Today"
        : t >= startToday - day
          ? "Yesterday"
          : t >= startToday - 7 * day
            ? "Previous 7 days"
            : "Older";
    (groups[g] ??= []).push(c);
  }
  return order.filter((g) => groups[g]).map((g) => [g, groups[g]]);
}

function ItemMenu(props: {
  conv: ConversationSummary;
  onClose: () => void;
  onRename: () => void;
  onPin: () => void;
  onExport: (f: ExportFormat) => void;
  onDelete: () => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const first = ref.current?.querySelector<HTMLElement>("[role=menuitem]");
    first?.focus();
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) props.onClose();
    };
    document.addEventListener("mousedown", onDown);
    return () => document.removeEventListener("mousedown", onDown);
  }, []);
  const onKey = (e: KeyboardEvent) => {
    const items = Array.from(ref.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? []);
    const i = items.indexOf(document.activeElement as HTMLElement);
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      props.onClose();
    } else if (e.key === "ArrowDown") {
      e.preventDefault();
      items[(i + 1) % items.length]?.focus();
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      items[(i - 1 + items.length) % items.length]?.focus();
    }
  };
  const item = (icon: IconName, label: string, run: () => void, cls = "") => (
    <button
      type="button"
      role="menuitem"
      class={`menu-item ${cls}`}
      onClick={() => {
        props.onClose();
        run();
      }}
    >
      <Icon name={icon} size={16} />
      {label}
    </button>
  );
  return (
    <div class="menu" role="menu" aria-label={`Actions for ${props.conv.title}`} ref={ref} onKeyDown={onKey}>
      {item("edit", "Rename", props.onRename)}
      {item("pin", props.conv.pinned ? "Unpin" : "Pin to the top", props.onPin)}
      {item("download", "Export as Markdown (.md)", () => props.onExport("md"))}
      {item("download", "Export as data (.json)", () => props.onExport("json"))}
      <div class="menu-sep" role="separator" />
      {item("trash", "Delete", props.onDelete, "menu-item--danger")}
    </div>
  );
}

export function Sidebar(props: {
  currentId: ConversationId | null;
  view: View;
  refreshKey: number;
  searchRef: RefObject<HTMLInputElement | null>;
  onOpen: (id: ConversationId) => void;
  onNewChat: () => void;
  onNavigate: (v: View) => void;
  onDeleted: (id: ConversationId) => void;
  /** Hides the sidebar to give the answer more room. */
  onCollapse?: () => void;
}) {
  const [query, setQuery] = useState("");
  const [list, setList] = useState<ConversationSummary[] | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [menuFor, setMenuFor] = useState<ConversationId | null>(null);
  const [renaming, setRenamingState] = useState<{ id: ConversationId; title: string } | null>(null);
  // The blur that follows Enter/Escape must see the latest value, not this render's.
  const renamingRef = useRef(renaming);
  const setRenaming = (r: { id: ConversationId; title: string } | null) => {
    renamingRef.current = r;
    setRenamingState(r);
  };
  const [tick, setTick] = useState(0);
  const reload = () => setTick((t) => t + 1);

  useEffect(() => {
    let stale = false;
    const q = query.trim();
    const timer = window.setTimeout(
      () => {
        ipc
          .conversationsList(q ? q : null)
          .then((l) => {
            if (stale) return;
            setList(l);
            setError(null);
          })
          .catch((e) => !stale && setError(ipc.toIpcError(e)));
      },
      q ? 180 : 0,
    );
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, props.refreshKey, tick]);

  async function commitRename() {
    const r = renamingRef.current;
    if (!r) return;
    setRenaming(null);
    const title = r.title.trim();
    const old = list?.find((c) => c.id === r.id);
    if (!title || !old || title === old.title) return;
    setList((l) => l && l.map((c) => (c.id === r.id ? { ...c, title } : c)));
    try {
      await ipc.conversationRename(r.id, title);
      showToast({ text: "Conversation renamed", tone: "success" });
    } catch (e) {
      showToast({ text: ipc.toIpcError(e).message, tone: "error" });
    }
    reload();
  }

  async function remove(c: ConversationSummary) {
    setList((l) => l && l.filter((x) => x.id !== c.id));
    try {
      await ipc.conversationDelete(c.id);
    } catch (e) {
      showToast({ text: ipc.toIpcError(e).message, tone: "error" });
      reload();
      return;
    }
    props.onDeleted(c.id);
    showToast({
      text: `Deleted “${c.title}”`,
      action: {
        label: "Undo",
        run: () => {
          ipc
            .conversationRestore(c.id)
            .then(() => {
              reload();
              showToast({ text: "Conversation restored", tone: "success" });
            })
            .catch((e) => showToast({ text: ipc.toIpcError(e).message, tone: "error" }));
        },
      },
    });
  }

  async function exportConv(c: ConversationSummary, format: ExportFormat) {
    try {
      const path = await ipc.conversationExportToFile(c.id, format);
      if (path) showToast({ text: `Saved to ${path}`, tone: "success" });
    } catch (e) {
      showToast({ text: ipc.toIpcError(e).message, tone: "error" });
    }
  }

  const nav = (v: View, icon: IconName, label: string, hint?: string) => (
    <button
      type="button"
      class={`nav-item ${props.view === v ? "is-active" : ""}`}
      aria-current={props.view === v ? "page" : undefined}
      onClick={() => props.onNavigate(v)}
    >
      <Icon name={icon} />
      <span>{label}</span>
      {hint && <kbd class="nav-kbd">{hint}</kbd>}
    </button>
  );

  const groups = list ? group(list) : [];

  return (
    <aside class="sidebar" aria-label="Conversations and navigation">
      <div class="brand">
        <span class="brand-mark" aria-hidden="true">
          <Icon name="bolt" size={16} />
        </span>
        Lookahead
        {props.onCollapse && (
          <button
            type="button"
            class="icon-btn sidebar-toggle"
            aria-label="Hide the sidebar"
            title="Hide the sidebar (Ctrl+B)"
            data-testid="sidebar-hide"
            onClick={props.onCollapse}
          >
            <Icon name="chevron" size={16} class="chev-left" />
          </button>
        )}
      </div>
      <button type="button" class="btn btn-primary new-chat" onClick={props.onNewChat}>
        <Icon name="plus" />
        New chat
        <kbd class="kbd-on-primary">{MOD}+N</kbd>
      </button>
      <div class="search">
        <Icon name="search" size={16} />
        <input
          ref={props.searchRef}
          type="search"
          value={query}
          placeholder={`Search  (${MOD}+K)`}
          aria-label="Search conversations"
          onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Escape" && query) {
              e.preventDefault();
              setQuery("");
            }
          }}
        />
      </div>

      <nav class="history" aria-label="Conversations">
        {error && <p class="small error-text">{error.message}</p>}
        {list && list.length === 0 && (
          <p class="history-empty muted small">{query.trim() ? `No chats match “${query.trim()}”.` : "Your chats will appear here."}</p>
        )}
        {groups.map(([name, items]) => (
          <div class="history-group" key={name}>
            <h2 class="history-heading">{name}</h2>
            <ul role="list">
              {items.map((c) => (
                <li key={c.id} class={`conv ${props.currentId === c.id ? "is-current" : ""}`} data-testid="conversation">
                  {renaming?.id === c.id ? (
                    <input
                      class="rename-input"
                      aria-label="New name for this chat"
                      value={renaming.title}
                      ref={(el) => {
                        if (el && document.activeElement !== el) {
                          el.focus();
                          el.select();
                        }
                      }}
                      onInput={(e) => setRenaming({ id: c.id, title: (e.currentTarget as HTMLInputElement).value })}
                      onKeyDown={(e) => {
                        if (e.key === "Enter") {
                          e.preventDefault();
                          void commitRename();
                        } else if (e.key === "Escape") {
                          e.preventDefault();
                          e.stopPropagation();
                          setRenaming(null);
                        }
                      }}
                      onBlur={() => void commitRename()}
                    />
                  ) : (
                    <button
                      type="button"
                      class="conv-open"
                      aria-current={props.currentId === c.id ? "true" : undefined}
                      onClick={() => props.onOpen(c.id)}
                    >
                      <span class="conv-title">{c.title}</span>
                      <span class="conv-meta">
                        {when(c.updated_at)} · {plural(c.message_count, "message")}
                      </span>
                    </button>
                  )}
                  {renaming?.id !== c.id && (
                    <button
                      type="button"
                      class="icon-btn conv-more"
                      aria-label={`More actions for ${c.title}`}
                      aria-haspopup="menu"
                      aria-expanded={menuFor === c.id}
                      onClick={() => setMenuFor(menuFor === c.id ? null : c.id)}
                    >
                      <Icon name="more" />
                    </button>
                  )}
                  {menuFor === c.id && (
                    <ItemMenu
                      conv={c}
                      onClose={() => setMenuFor(null)}
                      onRename={() => setRenaming({ id: c.id, title: c.title })}
                      onPin={() =>
                        void ipc
                          .conversationPin(c.id, !c.pinned)
                          .then(() => {
                            reload();
                            showToast({ text: c.pinned ? "Unpinned" : "Pinned to the top", tone: "success" });
                          })
                          .catch((e) => showToast({ text: ipc.toIpcError(e).message, tone: "error" }))
                      }
                      onExport={(f) => void exportConv(c, f)}
                      onDelete={() => void remove(c)}
                    />
                  )}
                </li>
              ))}
            </ul>
          </div>
        ))}
      </nav>

      <div class="sidebar-nav" role="navigation" aria-label="Main">
        {nav("chat", "chat", "Chat")}
        {nav("dashboard", "chart", "Dashboard")}
        {nav("settings", "gear", "Settings", `${MOD}+,`)}
      </div>
    </aside>
  );
}

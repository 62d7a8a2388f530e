-- SQLite twin of postgres/0006_widgets.sql.
-- Widgets (R-MSG-13): designed on-site / in-app messages with display rules, their uploaded assets,
-- and the web SDK's per-app settings (the opt-in prompt).
CREATE TABLE widgets (
    app_id        bigint NOT NULL,
    id            integer PRIMARY KEY AUTOINCREMENT,
    name          text NOT NULL,
    active        integer NOT NULL,        -- 0 | 1
    definition    text NOT NULL,           -- JSON: layout + rules
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL
);
CREATE INDEX widgets_app ON widgets (app_id, id);

-- Assets are kept in the database so every node serves them; the key is random (public URLs).
CREATE TABLE widget_assets (
    app_id        bigint NOT NULL,
    id            integer PRIMARY KEY AUTOINCREMENT,
    asset_key     text NOT NULL UNIQUE,
    kind          text NOT NULL,           -- image | video
    content_type  text NOT NULL,           -- from the file signature, never the name
    size          bigint NOT NULL,
    data          blob NOT NULL,
    created_at    bigint NOT NULL
);
CREATE INDEX widget_assets_app ON widget_assets (app_id, id);

CREATE TABLE web_sdk_settings (
    app_id        bigint PRIMARY KEY,
    settings      text NOT NULL,           -- JSON: optInPrompt
    updated_at    bigint NOT NULL
);

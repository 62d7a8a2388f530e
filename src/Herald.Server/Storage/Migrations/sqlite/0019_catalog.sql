-- SQLite twin of postgres/0019_catalog.sql.
-- The product / content catalog (R-MSG-3, R-APP-2): items a message can name ("{{item.name}} is
-- back in stock"), upserted in bulk by the app's back end.
CREATE TABLE catalog_items (
    app_id        bigint NOT NULL,
    item_id       text NOT NULL,
    name          text NOT NULL,
    price         double precision,
    currency      text,
    image_url     text,
    url           text,
    category      text,
    in_stock      integer,                 -- 0 | 1 | NULL
    attributes    text NOT NULL,           -- JSON object of further scalar values
    updated_at    bigint NOT NULL,
    PRIMARY KEY (app_id, item_id)
);

-- SQLite twin of postgres/0018_geofences.sql.
-- Geofences (R-GEO-1): named groups of circles, rectangles and polygons; which devices are inside
-- which fence, as their enter / exit events said; and when a device's location was last reported.
CREATE TABLE geofence_groups (
    app_id        bigint NOT NULL,
    id            integer PRIMARY KEY AUTOINCREMENT,
    name          text NOT NULL,
    created_at    bigint NOT NULL
);
CREATE UNIQUE INDEX geofence_groups_name ON geofence_groups (app_id, name);

CREATE TABLE geofences (
    app_id        bigint NOT NULL,
    id            integer PRIMARY KEY AUTOINCREMENT,
    group_id      bigint NOT NULL,
    name          text NOT NULL,
    shape         text NOT NULL,           -- circle | rectangle | polygon
    definition    text NOT NULL,           -- JSON: the shape's points and radius
    active        integer NOT NULL,        -- 0 | 1
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL
);
CREATE INDEX geofences_group ON geofences (app_id, group_id);

-- One row per device and fence it has reported; the newest report (by device time) wins.
CREATE TABLE device_geofences (
    app_id         bigint NOT NULL,
    geofence_id    bigint NOT NULL,
    device_ordinal integer NOT NULL,
    inside         integer NOT NULL,       -- 0 | 1
    changed_at     bigint NOT NULL,
    PRIMARY KEY (app_id, geofence_id, device_ordinal)
);
CREATE INDEX device_geofences_device ON device_geofences (app_id, device_ordinal);

ALTER TABLE devices ADD COLUMN located_at bigint;

-- migrate:up
-- The sha256 of an upload as the client sent it, when the stored bytes differ (identifying metadata such as GPS
-- was stripped, so `images.hash` is of other bytes). Clients that hash their local files before uploading
-- (`HEAD /images/by-hash/{sha256}`, `reactbin import`) find such an image by either hash. Several uploads can
-- lead to one image (the same photo with different location tags); a deleted image takes its rows with it.
CREATE TABLE image_upload_hashes (
    upload_hash text PRIMARY KEY CHECK (upload_hash ~ '^[0-9a-f]{64}$'),
    image_id    uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE
);

CREATE INDEX image_upload_hashes_image_id ON image_upload_hashes (image_id);

-- migrate:down
DROP TABLE image_upload_hashes;

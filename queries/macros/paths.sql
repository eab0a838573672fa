-- macros: edgelog_is_static(path)
-- answers: Whether a URL path is a static asset, by its file extension (stylesheets, scripts, images, fonts,
--          media, documents, archives, txt). Used by summary, static_files and sessions (page views are the
--          requests that are not static).
CREATE OR REPLACE MACRO edgelog_is_static(p) AS coalesce(regexp_matches(p, '(?i)\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|tiff?|woff2?|ttf|otf|eot|mp4|webm|ogg|mp3|wav|flv|avi|mpe?g|swf|pdf|txt|csv|xlsx?|docx?|pptx?|zip|gz|tgz|tar|rar|7z|exe|iso|dmg)$'), false);

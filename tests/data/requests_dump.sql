-- A user query used by the tests: every parsed request with the columns tests compare.
SELECT file, line_no, ip, remote_user, request, method, path, url_path, protocol, status, bytes, referer,
       user_agent, ts
FROM requests;

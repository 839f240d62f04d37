// Beast glue shared by server.cc and request_pipeline.cc: parser configuration and the
// conversion of a parsed head into a Request. Includes Beast: keep it out of public
// headers.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "rampart/server/http.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"

namespace rampart::server::internal {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Header limit from the options; a provisional body limit (ProcessHead sets the real one
// before the body is read).
void ConfigureParser(RequestParser& parser, const ServerOptions& options);

// Copies method, target and headers of the parsed head into `req`.
void CopyHead(const RequestParser& parser, Request& req);

// The response for a Beast parse error: 431 header too large, 413 body too large,
// 400 otherwise. Always closes the connection.
Response ParseErrorResponse(const boost::beast::error_code& ec, std::string_view request_id);

// ParseErrorResponse for a parse error while the body of a request to `route` was read;
// a body cut off past the limit (413) is also reported to the route
// (Route::on_too_large).
Response BodyParseErrorResponse(const Route& route, const Request& req,
                                const boost::beast::error_code& ec);

}  // namespace rampart::server::internal

/*
 * static.h - serving files from the document root.
 */
#ifndef HTD_STATIC_H
#define HTD_STATIC_H

struct htd_req;

/* Answers hr from the root: GET, HEAD and OPTIONS, with validators and ranges. */
void static_serve(struct htd_req *hr);

#endif

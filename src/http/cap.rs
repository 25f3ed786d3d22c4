//! Alerts as OASIS CAP 1.2 XML and as an Atom feed of links to them, the forms public alert
//! aggregators consume. Text goes through the XML writer's escaping; nothing is spliced.

use crate::service::alerts::{CapAlert, FeedEntry};
use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use std::io;

pub const CAP_NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";
pub const CAP_CONTENT_TYPE: &str = "application/cap+xml; charset=utf-8";
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";

/// CAP's dateTime: seconds, and an explicit offset (`Z` is not allowed).
fn cap_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// A character XML 1.0 allows in a document (`Char` production): no C0 controls but tab and
/// line breaks, no surrogates, no U+FFFE and U+FFFF. Escaping cannot make the others valid.
fn xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text as an XML document may hold it: every character XML forbids is replaced by U+FFFD.
/// Input is checked at the door (`domain::alert`); this is the writer's own guarantee, for
/// every text it writes (zone names, rows written by older versions).
pub fn xml_text(value: &str) -> std::borrow::Cow<'_, str> {
    if value.chars().all(xml_char) {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(
            value
                .chars()
                .map(|c| if xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

fn text<W: io::Write>(w: &mut Writer<W>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&xml_text(value)))?;
    Ok(())
}

/// CAP 1.2 `<alert>` for one alert.
pub fn alert_xml(a: &CapAlert) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("alert")
        .with_attribute(("xmlns", CAP_NS))
        .write_inner_content(|w| {
            text(w, "identifier", &a.identifier)?;
            text(w, "sender", &a.sender)?;
            text(w, "sent", &cap_time(a.sent))?;
            text(w, "status", "Actual")?;
            text(w, "msgType", &a.msg_type)?;
            text(w, "scope", "Public")?;
            if let Some((id, sent)) = &a.references {
                // CAP: "sender,identifier,sent" of each referenced message.
                text(
                    w,
                    "references",
                    &format!("{},{id},{}", a.sender, cap_time(*sent)),
                )?;
            }
            if let Some(incident) = &a.incident {
                text(w, "incidents", incident)?;
            }
            // CAP 1.2 says the language of each `info` in its `language` element (the schema
            // allows no xml:lang attribute there); one block per language.
            for t in &a.texts {
                w.create_element("info").write_inner_content(|w| {
                    text(w, "language", t.language.tag())?;
                    text(w, "category", &a.category)?;
                    text(w, "event", &a.event)?;
                    text(w, "responseType", &a.response_type)?;
                    text(w, "urgency", &a.urgency)?;
                    text(w, "severity", &a.severity)?;
                    text(w, "certainty", &a.certainty)?;
                    if let Some(e) = a.expires {
                        text(w, "expires", &cap_time(e))?;
                    }
                    text(w, "headline", &t.headline)?;
                    text(w, "description", &t.description)?;
                    if !t.instruction.is_empty() {
                        text(w, "instruction", &t.instruction)?;
                    }
                    for area in &a.areas {
                        w.create_element("area").write_inner_content(|w| {
                            text(w, "areaDesc", &area.desc)?;
                            for ring in &area.polygons {
                                let pairs: Vec<String> = ring
                                    .iter()
                                    .map(|(lat, lon)| format!("{lat},{lon}"))
                                    .collect();
                                text(w, "polygon", &pairs.join(" "))?;
                            }
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(w.into_inner())
}

/// An Atom feed (RFC 4287) whose entries link to the alerts' CAP messages.
pub fn feed_xml(
    base: &str,
    sender: &str,
    updated: DateTime<Utc>,
    entries: &[FeedEntry],
) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    w.create_element("feed")
        .with_attribute(("xmlns", "http://www.w3.org/2005/Atom"))
        .write_inner_content(|w| {
            text(w, "id", &format!("{base}/v1/alerts.atom"))?;
            text(w, "title", "safecode alerts")?;
            text(w, "updated", &rfc3339(updated))?;
            w.create_element("author")
                .write_inner_content(|w| text(w, "name", sender))?;
            w.create_element("link")
                .with_attributes([("rel", "self"), ("href", &format!("{base}/v1/alerts.atom"))])
                .write_empty()?;
            for e in entries {
                w.create_element("entry").write_inner_content(|w| {
                    text(w, "id", &format!("urn:uuid:{}", e.id))?;
                    text(w, "title", &e.headline)?;
                    text(w, "updated", &rfc3339(e.sent))?;
                    text(w, "published", &rfc3339(e.sent))?;
                    w.create_element("summary")
                        .write_text_content(BytesText::new(&xml_text(&format!(
                            "{} · {} · {} · {}",
                            e.msg_type, e.event, e.severity, e.urgency
                        ))))?;
                    w.create_element("link")
                        .with_attributes([
                            ("rel", "alternate"),
                            ("type", "application/cap+xml"),
                            ("href", &format!("{base}/v1/alerts/{}/cap", e.id)),
                        ])
                        .write_empty()?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::alerts::CapArea;

    #[test]
    fn characters_xml_forbids_never_reach_a_document() {
        assert_eq!(xml_text("Flood \u{2014} 洪水"), "Flood \u{2014} 洪水");
        assert_eq!(
            xml_text("a\u{FFFE}b\u{FFFF}c\u{0}d\u{1B}e"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e"
        );
        assert_eq!(xml_text("tab\tline\nret\r"), "tab\tline\nret\r");
    }

    fn sample() -> CapAlert {
        CapAlert {
            identifier: "3f1c".into(),
            sender: "safecode@localhost".into(),
            sent: "2026-07-20T08:30:00Z".parse().unwrap(),
            msg_type: "Update".into(),
            references: Some(("9a9a".into(), "2026-07-20T08:00:00Z".parse().unwrap())),
            incident: None,
            category: "Met".into(),
            event: "Flood".into(),
            response_type: "Evacuate".into(),
            urgency: "Immediate".into(),
            severity: "Extreme".into(),
            certainty: "Observed".into(),
            expires: None,
            texts: vec![crate::domain::alert::AlertText {
                language: crate::domain::message::Language::En,
                headline: "Levee <breach> & rising".into(),
                description: "Water \"rising\"".into(),
                instruction: String::new(),
            }],
            areas: vec![CapArea {
                desc: "Yiqiao".into(),
                polygons: vec![vec![
                    (30.0, 120.0),
                    (30.0, 120.1),
                    (30.1, 120.1),
                    (30.0, 120.0),
                ]],
            }],
        }
    }

    #[test]
    fn times_carry_an_offset_and_text_is_escaped() {
        let xml = String::from_utf8(alert_xml(&sample()).unwrap()).unwrap();
        assert!(
            xml.contains("<sent>2026-07-20T08:30:00+00:00</sent>"),
            "{xml}"
        );
        assert!(xml.contains(
            "<references>safecode@localhost,9a9a,2026-07-20T08:00:00+00:00</references>"
        ));
        assert!(xml.contains("Levee &lt;breach&gt; &amp; rising"), "{xml}");
        assert!(xml.contains("<polygon>30,120 30,120.1 30.1,120.1 30,120</polygon>"));
        assert!(
            !xml.contains("<instruction>"),
            "an empty instruction is left out"
        );
    }
}

"""Printing the evaluation report to PDF with Qt's own printing support (no browser needed).

The report is plain HTML tables with charts as SVG data URIs, which QTextDocument lays out;
QPrinter writes A4 pages with the document's own page breaks.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QTextDocument
from PySide6.QtPrintSupport import QPrinter


def html_to_pdf(html: str, pdf_path: str | Path) -> Path:
    """Write `html` as an A4 PDF at `pdf_path`; returns the path."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(pdf_path))
    printer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                      QMarginsF(14, 14, 14, 14), QPageLayout.Unit.Millimeter))
    doc = QTextDocument()
    doc.setHtml(html)
    doc.setPageSize(QSizeF(printer.pageRect(QPrinter.Unit.Point).size()))
    doc.print_(printer)
    return Path(pdf_path)
